"""OPAL integration: data endpoints OPAL clients fetch, and DataUpdates published to OPAL."""
