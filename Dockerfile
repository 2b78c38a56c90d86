# robowatch services image: one image, the service chosen by the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY robowatch ./robowatch
COPY collectors ./collectors
COPY detection ./detection
COPY ticketing ./ticketing
COPY api ./api
COPY simulators ./simulators
COPY storage ./storage
RUN pip install . && useradd --system --home /var/lib/robowatch robowatch \
    && mkdir -p /var/lib/robowatch && chown robowatch /var/lib/robowatch
USER robowatch
ENV ROBOWATCH_HOME=/var/lib/robowatch
ENTRYPOINT ["robowatch"]
CMD ["--help"]
