"""Sample applications served by the end-to-end tests."""
