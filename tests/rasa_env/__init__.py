"""Tests that run inside the Rasa environment (Python 3.10, rasa_sdk), with stdlib unittest.

pytest does not collect this folder; tests/assistant/test_actions.py runs it in .venv-rasa.
"""
