"""The read side: the record read back for people and programs (the person view, the health assessment, the
indicators' inputs), built from the store on request; nothing here writes."""
