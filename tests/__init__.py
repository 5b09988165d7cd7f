"""End-to-end tests: each module starts real granian servers on 127.0.0.1."""
