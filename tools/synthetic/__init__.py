"""A synthetic vets-api database: what each vets-api job writes, with ground-truth labels."""
