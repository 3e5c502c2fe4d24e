"""Plumbing both services share: settings base, app factories, serving, metrics, error mapping."""
