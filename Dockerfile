# One image for every eokg service of docker-compose.yml: the API, the one-shot
# ingest job, and the Spark master and workers.  Spark's driver and executors
# must run the same Python minor version and import the same eokg, so the
# cluster runs from this image too, with the Spark that PySpark ships
# (SPARK_HOME below; `spark-class` starts masters and workers).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/eokg
COPY . .
# install.sh: eokg with its extras, tf-keras, and the jars and nodes it vendors
# (Sedona's jars for Spark; the OpenSearch test node is skipped: compose runs one)
RUN EOKG_VENDOR_OPENSEARCH=0 bash scripts/install.sh all && pip cache purge || true
ENV SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/usr/local/bin/python3.11 \
    EOKG_STORE__PATH=/data/store
EXPOSE 8000
CMD ["eokg", "serve", "--host", "0.0.0.0", "--port", "8000"]
