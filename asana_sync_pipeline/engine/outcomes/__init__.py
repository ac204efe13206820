"""8. What became of the work: each task the sync gave a row, as Asana shows it now, the changes of
its fields with who made them, and every action of every run, kept in the state and given back as
tables in the model's terms (`frames`), fresh from as few reads as Asana allows (`refresh`)."""
