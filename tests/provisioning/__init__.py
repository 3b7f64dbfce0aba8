"""Tests of the staff page (provisioning/)."""
