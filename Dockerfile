# Multi-stage build: the same install path CI checks (a wheel installed with constraints.txt).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir pip==25.3
COPY pyproject.toml constraints.txt README.md ./
COPY campus ./campus
COPY bot ./bot
COPY dialogs ./dialogs
COPY knowledge_base ./knowledge_base
COPY scheduler ./scheduler
COPY emulator ./emulator
RUN python -m pip wheel --no-cache-dir --no-deps -w /dist . \
 && python -m venv /opt/safecampus \
 && /opt/safecampus/bin/pip install --no-cache-dir -c constraints.txt /dist/*.whl

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 safecampus \
 && mkdir -p /var/lib/safecampus && chown safecampus /var/lib/safecampus
COPY --from=build /opt/safecampus /opt/safecampus
ENV PATH=/opt/safecampus/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SAFECAMPUS_DATA_DIR=/var/lib/safecampus
USER safecampus
WORKDIR /var/lib/safecampus
VOLUME ["/var/lib/safecampus"]
# The token and database URL come from the environment at run time, never from the image.
ENTRYPOINT ["safecampus"]
CMD ["run"]
