# services/ingest/build.mk — the Falco HTTP receiver checks client certificates
# (mTLS) with GnuTLS, the TLS library libmicrohttpd is built on.
INGEST_GNUTLS_LIBS := $(shell pkg-config --libs gnutls 2>/dev/null)
$(BIN)/tfdrift-ingest: LIBS += $(INGEST_GNUTLS_LIBS)
# bench/bench_ingest runs the receiver in-process
$(BUILD)/bench/bench_ingest: LIBS += $(INGEST_GNUTLS_LIBS)
