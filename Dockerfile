FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY core ./core
COPY storage ./storage
COPY exchanges ./exchanges
COPY workers ./workers
COPY webapp ./webapp
COPY cli ./cli
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Editable, so migrations/, templates/ and static/ are found next to the code.
RUN pip install -e .
# A fixed uid: Kubernetes manifests run it with runAsNonRoot + runAsUser 1000.
RUN useradd --create-home --uid 1000 perpvol
USER perpvol
EXPOSE 8000
CMD ["perpvol", "web", "--host", "0.0.0.0", "--port", "8000"]
