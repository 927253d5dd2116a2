# The project's Airflow image: the official image, the pinned runtime packages, and the project code.
#   docker compose build        (docker-compose.yaml builds it for every Airflow service)
FROM apache/airflow:3.3.2-python3.11

# apache-airflow itself is pinned in requirements-image.txt (same version as the base image), so pip
# cannot up- or downgrade Airflow while it installs the providers and libraries at the locked versions.
COPY requirements-image.txt constraints.txt /tmp/form526/
RUN pip install --no-cache-dir -r /tmp/form526/requirements-image.txt -c /tmp/form526/constraints.txt

# The code is baked in so the image runs on its own (Kubernetes, ECS...); docker-compose.yaml mounts
# the same folders over these copies for local work. include/ is imported as `from include...`,
# with /opt/airflow on PYTHONPATH, exactly as in the tests (project root on PYTHONPATH).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
ENV PYTHONPATH=/opt/airflow
