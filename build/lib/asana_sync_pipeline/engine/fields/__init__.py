"""2. Field rules and names: columns mapped to Asana fields, each value checked and made canonical, names resolved against the project."""
