# One image for every process: web (the default command), worker and migrations.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EMAIL_FILE_DIR=/var/lib/shop/mail

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/shop shop \
    && install -d -o shop -g shop /var/lib/shop/mail

WORKDIR /app

# Dependencies get their own layer, rebuilt only when the package metadata changes. The install
# is editable because the code finds sql/ and migrations/ beside the package, not inside it.
COPY setup.cfg pyproject.toml README.md ./
COPY shop_api/__init__.py shop_api/
COPY workers/__init__.py workers/
RUN pip install -e .

COPY yoyo.ini ./
COPY sql/ sql/
COPY migrations/ migrations/
COPY workers/ workers/
COPY shop_api/ shop_api/

USER shop
EXPOSE 8080
CMD ["shop-api", "serve", "--host", "0.0.0.0"]
