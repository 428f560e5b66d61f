# Citizen IdP: the provider image. Build: docker build -t citizen-idp .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

# Editable install: idp/migrate.py finds alembic.ini and migrations/ at the repository root,
# one directory above the idp package, so the source tree stays where it is.
COPY README.md alembic.ini ./
COPY migrations ./migrations
COPY consent ./consent
COPY idp ./idp
RUN pip install --no-deps -e .

# A non-root user; IDP_DATA_DIR must be writable (the server creates it on start), although
# with PostgreSQL and IDP_MASTER_KEY nothing is stored there.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/idp --create-home idp
ENV IDP_DATA_DIR=/var/lib/idp
USER idp

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]

# `idp serve` checks the schema and the signing keys, then runs N uvicorn workers, each
# listening on its own SO_REUSEPORT socket (docs/operations.md, Serving).
CMD ["idp", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
