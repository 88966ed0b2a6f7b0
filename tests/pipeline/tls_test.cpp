// The TLS leg of the pipeline through a real Caddy: the edge verifies the proxy's certificate
// against the configured CA only, and an oversized batch is answered by the server's own limit
// (not Caddy's) and split by the edge instead of being re-sent unchanged.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "pipeline.hpp"
#include "test_ca.hpp"

namespace sungrow::test {
namespace {

using namespace std::chrono_literals;

TEST(PipelineTls, EveryUploadGoesThroughCaddyWithTheCertificateVerified) {
  Pipeline p;
  p.start_edge();
  ASSERT_TRUE(p.wait_until_drained(30s)) << p.edge_log();
  EXPECT_NE(p.ingest_url().rfind("https://localhost:", 0), std::string::npos) << p.ingest_url();
  const auto realtime = p.get("/v1/realtime");  // also through Caddy, verified by the test
  EXPECT_EQ(realtime.status, 200) << realtime.body;
  EXPECT_GT(p.stored_rows(), 0);
}

TEST(PipelineTls, TheEdgeRefusesACertificateItsCaDidNotSignAndKeepsEverything) {
  TestPki foreign;  // a CA that never signed Caddy's certificate
  Pipeline p({.edge_args = {"--ca-file", foreign.ca_cert().string()}});
  p.start_edge();
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    std::this_thread::sleep_for(100ms);
    if (auto h = p.edge_health()) {
      refused = !h->at("upload").at("last_at").is_null() && !h->at("upload").at("ok").as_bool() &&
                h->at("spool").at("depth").as_int64() > 0;
    }
  }
  ASSERT_TRUE(refused) << p.edge_log();
  EXPECT_EQ(p.stop_edge(), 0);
  EXPECT_EQ(p.stored_rows(), 0) << "nothing may pass an unverified TLS handshake";
  const auto report = p.oracle();
  EXPECT_EQ(static_cast<std::int64_t>(report.spool_depth), report.committed)
      << "every sample must still wait in the spool: " << report.summary();
}

// Caddy 2.6 forwards the body; the server refuses it with 413 from the headers alone (16 KiB
// limit here), and the edge halves the batch until it fits, remembering the size that did.
TEST(PipelineTls, AnOversizedBatchIsRefusedByTheServerAndSplitNeverResentUnchanged) {
  Pipeline p({.server_env = {"INGEST_MAX_BYTES=16384"},
              .edge_args = {"--no-gzip", "--max-batch-size", "200", "--upload-interval", "30"}});
  p.start_edge();
  std::this_thread::sleep_for(1s);
  p.caddy().stop();
  ASSERT_TRUE(p.wait_for_backlog(60, 60s)) << p.edge_log();  // ~60 × 700 B ≫ 16 KiB
  p.stop_sim();
  p.caddy().start();
  ASSERT_TRUE(p.wait_until_drained(90s)) << p.edge_log();
  ASSERT_EQ(p.stop_edge(), 0);
  const auto report = p.oracle();
  std::cout << "[tls] oversized batches split: " << report.summary() << std::endl;
  EXPECT_TRUE(report.clean()) << report.summary();
  const auto edge_log = p.edge_log();
  EXPECT_NE(edge_log.find("HTTP 413"), std::string::npos) << edge_log;
  EXPECT_NE(edge_log.find("splitting"), std::string::npos) << edge_log;
  EXPECT_NE(p.server_log().find(" 413 "), std::string::npos);
}

}  // namespace
}  // namespace sungrow::test
