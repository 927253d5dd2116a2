"""Project code importable without Airflow (Astronomer layout): the ``form526`` domain package."""
