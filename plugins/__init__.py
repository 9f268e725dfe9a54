"""irem's built-in plugins, registered under the entry-point group ``irem`` like any other."""
