"""Review of conflicts: values a source offered that were not applied, and ambiguous matches."""
