# sen4map-etl: `docker build -t sen4map-etl .` then `docker run --rm sen4map-etl` (prints the help)
# or `docker run --rm -v $PWD/data:/data sen4map-etl etl run --country AT ... --out /data/out`.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

# Dependency layer first: it is rebuilt only when pyproject.toml changes, not on code edits.
COPY pyproject.toml README.md ./
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
RUN pip install -r /tmp/requirements.txt

# Then the source.
COPY lucas ./lucas
COPY exports ./exports
COPY pipeline ./pipeline
COPY benchmark ./benchmark
RUN pip install --no-deps . && etl --version

CMD ["etl", "--help"]
