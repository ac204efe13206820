"""4. The Asana client: paced, retried HTTP with precise errors, and the connection test run before any write."""
