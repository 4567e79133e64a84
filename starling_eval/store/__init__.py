"""Every byte on disk: the call cache, run folders, and the run index (see DESIGN.md, "store")."""
