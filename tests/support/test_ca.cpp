// TestPki: certificate generation with the OpenSSL 3 C API, every handle owned by a unique_ptr.
#include "test_ca.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace sungrow::test {

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] void ossl_fail(const std::string& what) {
  std::string msg = "test PKI: " + what;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    msg += "; ";
    msg += buf;
  }
  throw std::runtime_error(msg);
}

void check(int rc, const char* what) {
  if (rc <= 0) ossl_fail(what);
}

PkeyPtr make_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) ossl_fail("EC key generation");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) ossl_fail(std::string("extension ") + OBJ_nid2sn(nid));
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// issuer == nullptr: self-signed (the cert is its own issuer).
X509Ptr make_cert(EVP_PKEY* key, const char* common_name, bool is_ca, X509* issuer,
                  EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) ossl_fail("X509_new");
  check(X509_set_version(cert.get(), 2), "X509_set_version");
  // Random serials: two TestPki objects in one process must never issue colliding certificates.
  BnPtr serial(BN_new());
  if (!serial) ossl_fail("BN_new");
  check(BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr ? 1 : 0,
        "serial");
  // Starts an hour back so a slightly skewed clock in a test VM still accepts it.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr) ossl_fail("notBefore");
  if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2L * 24 * 3600) == nullptr) {
    ossl_fail("notAfter");
  }
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("sungrow tests"), -1, -1,
                                   0),
        "subject O");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0),
        "subject CN");
  X509* const signer = issuer != nullptr ? issuer : cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "issuer name");

  add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (is_ca) {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), "X509_sign");
  return cert;
}

BioPtr open_for_write(const std::filesystem::path& p) {
  BioPtr bio(BIO_new_file(p.c_str(), "w"));
  if (!bio) ossl_fail("cannot write " + p.string());
  return bio;
}

void write_cert(const std::filesystem::path& p, X509* cert) {
  auto bio = open_for_write(p);
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
}

void write_key(const std::filesystem::path& p, EVP_PKEY* key) {
  auto bio = open_for_write(p);
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  std::filesystem::permissions(
      p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

std::filesystem::path make_temp_dir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("sungrow-pki-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) return candidate;
  }
  throw std::runtime_error("test PKI: cannot create a temporary directory");
}

}  // namespace

TestPki::TestPki() : dir_(make_temp_dir()) {
  try {
    ca_cert_ = dir_ / "ca.pem";
    server_cert_ = dir_ / "server.pem";
    server_key_ = dir_ / "server.key";
    other_ca_cert_ = dir_ / "other-ca.pem";

    const auto ca_key = make_key();
    const auto ca = make_cert(ca_key.get(), "sungrow test CA", true, nullptr, nullptr);
    const auto leaf_key = make_key();
    const auto leaf = make_cert(leaf_key.get(), "localhost", false, ca.get(), ca_key.get());
    const auto other_key = make_key();
    const auto other = make_cert(other_key.get(), "sungrow unrelated CA", true, nullptr, nullptr);

    write_cert(ca_cert_, ca.get());
    write_cert(server_cert_, leaf.get());
    write_key(server_key_, leaf_key.get());
    write_cert(other_ca_cert_, other.get());
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace sungrow::test
