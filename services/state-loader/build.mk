# services/state-loader/build.mk — embeds identifiers.tsv into the binary.
#
# The table is data (one row per Terraform resource type); sed turns it into
# a C string, $(GEN)/state_loader_identifiers.c, parsed once at start by
# index.c (idx_init), which reports a bad row by line.

STATE_LOADER_IDS_TSV := services/state-loader/identifiers.tsv
STATE_LOADER_IDS_O   := $(OBJ)/gen/state_loader_identifiers.o

$(GEN)/state_loader_identifiers.c: $(STATE_LOADER_IDS_TSV) services/state-loader/build.mk
	@mkdir -p $(dir $@)
	{ printf '/* generated from %s; do not edit */\n#include "index.h"\nconst char idx_table_text[] =\n' '$<'; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  printf '\t"";\n'; } > $@.tmp && mv $@.tmp $@

$(STATE_LOADER_IDS_O): $(GEN)/state_loader_identifiers.c services/state-loader/index.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iservices/state-loader -c -o $@ $<

state-loader_EXTRA_O += $(STATE_LOADER_IDS_O)

# unit tests and benches that link index.c need the table too
STATE_LOADER_IDS_USERS := $(TBIN)/test_tfstate $(TBIN)/test_state_sources $(TBIN)/test_state_check \
	$(TBIN)/test_state_contain \
	$(BUILD)/bench/bench_state
$(STATE_LOADER_IDS_USERS): $(STATE_LOADER_IDS_O)
$(STATE_LOADER_IDS_USERS): LIBS += $(STATE_LOADER_IDS_O)
