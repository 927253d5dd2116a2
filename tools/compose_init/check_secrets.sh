#!/bin/sh
# Refuse to start the compose stack with a secret that is empty, still the .env.example placeholder
# (CHANGE_ME), or a demo value an earlier .env.example published. Compose's ${X:?} refuses only empty values.
#
#   check_secrets.sh NAME...    each NAME is an environment variable; values are never printed
#
# Exit 0 when every secret is set; 1 naming each bad one; 2 on a malformed NAME. POSIX sh (the mc and
# postgres images have no common shell but sh), builtins only.
set -u

# Base64 tails of the Fernet and KMS keys that .env.example shipped before it held placeholders.
OLD_FERNET=Zm9ybTUyNi1kZW1vLWZlcm5ldC1jaGFuZ2UtbWUhISE=
OLD_KMS=Zm9ybTUyNi1kZW1vLWttcy1rZXktY2hhbmdlLW1lISE=

bad=0
for name in "$@"; do
  case "$name" in
    '' | [0-9]* | *[!A-Za-z0-9_]*) echo "check_secrets: not a variable name: '$name'" >&2; exit 2 ;;
  esac
  eval "value=\${$name-}"
  reason=""
  if [ -z "$value" ]; then
    reason="is empty or not set"
  else
    case "$value" in
      *[Cc][Hh][Aa][Nn][Gg][Ee][-_][Mm][Ee]*) reason="is still the placeholder of .env.example" ;;
      *"$OLD_FERNET"* | *"$OLD_KMS"*) reason="is a demo value an earlier .env.example published" ;;
    esac
  fi
  if [ -n "$reason" ]; then
    echo "refusing to start: $name $reason. Run 'make secrets' (writes a fresh .env) or set $name in .env." >&2
    bad=1
  fi
done
if [ "$bad" -ne 0 ]; then
  exit 1
fi
echo "secrets: all $# set, none is a placeholder"
