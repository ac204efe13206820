"""5. Seeing what people did in Asana: the project's events since the last run (or one listing), the
tasks that changed read, compared with what the sync wrote, and the plan adjusted as the sync's
policies say."""
