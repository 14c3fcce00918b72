"""The example domain: a CI service's tables (projects, pull requests, builds, test runs)."""
