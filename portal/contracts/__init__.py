"""The portal's contracts: a contact's organization's active contracts, with the
services included and the optional services offered at their prices."""
