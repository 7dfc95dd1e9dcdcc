"""Load generators and benchmark reports (``make bench``); they use the public interfaces only."""
