# The eokg API image used by docker-compose.yml.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/eokg
COPY . .
RUN pip install --no-cache-dir ".[spark,es]"
EXPOSE 8000
CMD ["eokg", "serve", "--host", "0.0.0.0", "--port", "8000"]
