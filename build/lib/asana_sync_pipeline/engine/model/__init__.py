"""1. Reading the model: the warehouse query into a DataFrame, exact numbers kept."""
