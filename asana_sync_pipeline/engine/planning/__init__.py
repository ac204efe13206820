"""3. Planning: one operation per row (create, update, unchanged, reject), the removals and comments due; pure and vectorized."""
