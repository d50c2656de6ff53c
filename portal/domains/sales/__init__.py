"""The sales pipeline: leads, opportunities on a board, the admin-edited lists, and
the rule that moves an opportunity when its proposals are delivered, signed, won or
lost (``pipeline``, subscribed to ``proposals.signals``)."""
