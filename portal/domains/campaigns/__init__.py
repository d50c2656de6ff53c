"""The Optional Service Opportunity campaign: for one service, an opportunity and a
draft proposal for every property whose active contract offers it as optional."""
