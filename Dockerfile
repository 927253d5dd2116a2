# The project's Airflow image: the official image, the pinned runtime packages, and the pipeline code.
#   docker compose build        (docker-compose.yaml builds both targets)
#
# Targets:
#   production  dags/, plugins/, include/ only: what every Airflow service runs. Also the default (the last
#               stage of this file), so a plain `docker build .` gives it.
#   tools       production + tools/ (synthetic-data generator, developer tools), for the compose
#               `source-seed` one-shot only. Never deploy it: tools/ is not pipeline code.
FROM apache/airflow:3.3.2-python3.11 AS production

# requirements-image.txt is the runtime set (requirements.txt), which pins apache-airflow itself to the base
# image's version, so pip cannot up- or downgrade Airflow while it installs the providers and libraries at
# the locked versions.
COPY requirements.txt requirements-image.txt constraints.txt /tmp/form526/
RUN pip install --no-cache-dir -r /tmp/form526/requirements-image.txt -c /tmp/form526/constraints.txt

# The code is baked in so the image runs on its own (Kubernetes, ECS...); docker-compose.yaml mounts
# the same folders over these copies for local work. include/ is imported as `from include...`,
# with /opt/airflow on PYTHONPATH, exactly as in the tests (project root on PYTHONPATH).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
ENV PYTHONPATH=/opt/airflow

# Developer tools on top of the production image. The seeding needs only runtime packages (psycopg,
# reportlab, Pillow), so no dev requirement is installed here.
FROM production AS tools
COPY --chown=airflow:0 tools/ /opt/airflow/tools/

# The default target (plain `docker build .`) is the production image.
FROM production
