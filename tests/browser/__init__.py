"""Tests that drive the app in headless Chromium against a live server."""
