#!/usr/bin/env bash
# The webhook's certificate without cert-manager: a small CA of your own and a serving
# certificate for the webhook Service, made with openssl (docs/reference.md#kubernetes).
#
#   deploy/k8s/webhook-cert.sh [--dir DIR] [--namespace NS] [--service NAME] [--days N] [--apply]
#
# Writes DIR/ca.crt, DIR/ca.key (kept: a later run re-issues the serving certificate under the
# same CA, so the API server's caBundle does not change), DIR/tls.crt and DIR/tls.key. With
# --apply it also creates or updates the Secret dyeline-webhook-tls in NS and sets the caBundle
# of the MutatingWebhookConfiguration dyeline (kubectl, with your credentials). The webhook
# re-reads the Secret's files when they change; nothing is restarted.
#
# Defaults: --dir ./dyeline-webhook-certs, --namespace dyeline-system, --service dyeline-webhook,
# --days 365 (serving certificate; the CA gets 10 years).
set -euo pipefail

dir=./dyeline-webhook-certs
namespace=dyeline-system
service=dyeline-webhook
days=365
apply=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --namespace) namespace=$2; shift 2 ;;
    --service) service=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --apply) apply=true; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "webhook-cert.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$days" in ''|*[!0-9]*) echo "webhook-cert.sh: --days expects a number of days, got '$days'" >&2; exit 2 ;; esac
command -v openssl >/dev/null 2>&1 || { echo "webhook-cert.sh: openssl is required" >&2; exit 1; }

mkdir -p "$dir"
umask 077
if [ ! -s "$dir/ca.key" ] || [ ! -s "$dir/ca.crt" ]; then
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=dyeline-webhook-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  echo "webhook-cert.sh: new CA in $dir/ca.crt" >&2
else
  echo "webhook-cert.sh: keeping the CA in $dir/ca.crt" >&2
fi

# The API server calls https://<service>.<namespace>.svc:443/inject and checks that name.
san="DNS:$service,DNS:$service.$namespace,DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local"
ext=$(mktemp)
trap 'rm -f "$ext" "$dir/tls.csr.tmp" "$dir/tls.key.tmp" "$dir/tls.crt.tmp"' EXIT
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$ext"
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$service.$namespace.svc" \
  -keyout "$dir/tls.key.tmp" -out "$dir/tls.csr.tmp" 2>/dev/null
openssl x509 -req -in "$dir/tls.csr.tmp" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days "$days" -sha256 -extfile "$ext" -out "$dir/tls.crt.tmp" 2>/dev/null
openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt.tmp" >/dev/null
mv "$dir/tls.key.tmp" "$dir/tls.key"
mv "$dir/tls.crt.tmp" "$dir/tls.crt"
echo "webhook-cert.sh: serving certificate for $san in $dir/tls.crt (valid $days days)" >&2

if [ "$apply" = true ]; then
  command -v kubectl >/dev/null 2>&1 || { echo "webhook-cert.sh: --apply needs kubectl" >&2; exit 1; }
  kubectl -n "$namespace" create secret tls dyeline-webhook-tls --cert="$dir/tls.crt" --key="$dir/tls.key" \
    --dry-run=client -o yaml | kubectl apply -f -
  bundle=$(base64 <"$dir/ca.crt" | tr -d '\n')
  kubectl patch mutatingwebhookconfiguration dyeline --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$bundle\"}]"
  echo "webhook-cert.sh: Secret $namespace/dyeline-webhook-tls and the caBundle of mutatingwebhookconfiguration/dyeline are set" >&2
fi
