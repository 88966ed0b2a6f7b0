// A throwaway PKI made at test time: a CA, a localhost server cert it signs, and an unrelated CA.
#pragma once

#include <filesystem>

namespace sungrow::test {

// Generates (OpenSSL 3, EC P-256 keys, valid from 1 h ago for 2 days) and writes PEM files into a
// fresh temporary directory, which the destructor removes. Throws std::runtime_error on failure.
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Trust anchor for clients (VPS_CA_FILE).
  const std::filesystem::path& ca_cert() const { return ca_cert_; }
  // Leaf for DNS:localhost, IP:127.0.0.1 and IP:::1, signed by ca_cert().
  const std::filesystem::path& server_cert() const { return server_cert_; }
  const std::filesystem::path& server_key() const { return server_key_; }
  // A CA that signed nothing we serve: trusting it instead of ca_cert() must fail verification.
  const std::filesystem::path& other_ca_cert() const { return other_ca_cert_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path ca_cert_;
  std::filesystem::path server_cert_;
  std::filesystem::path server_key_;
  std::filesystem::path other_ca_cert_;
};

}  // namespace sungrow::test
