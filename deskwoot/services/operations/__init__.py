"""Running the installation: the demo workspace, pruning old rows, outgoing mail."""
