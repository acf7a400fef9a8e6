# services/correlator/build.mk — the mapping catalog embedded into the binary,
# ingest's CloudTrail reader and the state-loader's state parser (with its
# identifier table) linked for `explain` (read-only use).  The table object is
# named by path: state-loader/build.mk is read after this file.
CORRELATOR_CATALOG := $(sort $(wildcard services/correlator/catalog/*.tsv))
CORRELATOR_CATALOG_O := $(OBJ)/gen/correlator_catalog.o
CORRELATOR_STATE_O := $(OBJ)/services/ingest/cloudtrail_record.o $(OBJ)/services/ingest/cloudtrail_file.o \
	$(OBJ)/services/ingest/falco_alert.o $(OBJ)/services/state-loader/tfstate.o \
	$(OBJ)/services/state-loader/redact.o $(OBJ)/services/state-loader/index.o \
	$(OBJ)/gen/state_loader_identifiers.o

$(GEN)/correlator_catalog.c: $(CORRELATOR_CATALOG) services/correlator/embed-catalog.sh
	@mkdir -p $(dir $@)
	sh services/correlator/embed-catalog.sh $(CORRELATOR_CATALOG) > $@.tmp && mv $@.tmp $@

$(CORRELATOR_CATALOG_O): $(GEN)/correlator_catalog.c services/correlator/catalog.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iservices/correlator -c -o $@ $<

correlator_EXTRA_O += $(CORRELATOR_CATALOG_O) $(CORRELATOR_STATE_O)

# tests, bench and the Falco rules generator link the catalog too
$(TBIN)/test_catalog $(TBIN)/test_correlator_rules: $(CORRELATOR_CATALOG_O) $(OBJ)/gen/state_loader_identifiers.o
$(TBIN)/test_catalog $(TBIN)/test_correlator_rules: LIBS += $(CORRELATOR_CATALOG_O) $(OBJ)/gen/state_loader_identifiers.o
$(BIN)/tfdrift-rules-gen: $(CORRELATOR_CATALOG_O) $(OBJ)/services/correlator/catalog.o
$(BIN)/tfdrift-rules-gen: LIBS := $(CORRELATOR_CATALOG_O) $(OBJ)/services/correlator/catalog.o $(LIBS)
$(BUILD)/bench/bench_correlator: $(CORRELATOR_CATALOG_O) $(OBJ)/gen/state_loader_identifiers.o
$(BUILD)/bench/bench_correlator: LIBS += $(CORRELATOR_CATALOG_O) $(OBJ)/gen/state_loader_identifiers.o
