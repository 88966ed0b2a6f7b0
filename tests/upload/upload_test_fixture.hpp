// UploadFixture: the upload tests' test PKI (one per suite), HTTPS receiver and base settings.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "https_receiver.hpp"
#include "sungrow/edge/upload/uploader.hpp"
#include "test_ca.hpp"

namespace sungrow::edge {

class UploadFixture : public ::testing::Test {
 protected:
  // token: what the receiver requires and the settings send; device: the only device_id the
  // receiver started by SetUp accepts.
  UploadFixture(std::string token, std::string device)
      : token_(std::move(token)), device_(std::move(device)) {}

  static void SetUpTestSuite() { pki_ = new test::TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // Starts receiver_, restricted to the fixture's device.
  void SetUp() override {
    auto o = receiver_options();
    o.device_id = device_;
    receiver_ = std::make_unique<test::HttpsReceiver>(std::move(o));
  }

  // A receiver serving the PKI's localhost leaf and requiring the fixture's token.
  test::ReceiverOptions receiver_options() const {
    test::ReceiverOptions o;
    o.cert_file = pki_->server_cert();
    o.key_file = pki_->server_key();
    o.token = token_;
    return o;
  }

  // Posting to receiver_ with the fixture's token, trusting only the PKI's CA.
  UploaderSettings upload_settings(std::chrono::milliseconds timeout) const {
    UploaderSettings s;
    s.url = receiver_->url();
    s.token = token_;
    s.ca_file = pki_->ca_cert().string();
    s.timeout = timeout;
    return s;
  }

  static inline test::TestPki* pki_ = nullptr;
  std::unique_ptr<test::HttpsReceiver> receiver_;

 private:
  std::string token_;
  std::string device_;
};

}  // namespace sungrow::edge
