"""Files on disk: an inbox directory polled and emptied (inbox), a directory tree read in place (archive)."""
