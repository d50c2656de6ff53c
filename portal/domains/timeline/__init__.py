"""One timeline for every domain (as Indico's ``modules/logs`` serves every module):
what happened to a proposal, a ticket, and next an opportunity or a service order,
who did it, and when. Domains write through :func:`record_event`; pages read with
:func:`events_for`."""
