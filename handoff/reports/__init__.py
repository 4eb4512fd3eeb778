"""Reports for supervisors: figures computed by SQL aggregates, and server-rendered SVG charts."""
