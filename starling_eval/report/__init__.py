"""Result tables and reports: built from stored scores, never by calling a model."""
