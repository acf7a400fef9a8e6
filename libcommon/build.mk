# libcommon/build.mk — the domain's data, embedded into libtdcommon.a.
#
# identifiers.tsv (one row per Terraform resource type: which attributes name
# an instance) becomes a C string, $(GEN)/domain_identifiers.c, parsed once at
# start by identifiers.c (idx_init), which reports a bad row by line.
# catalog/*.tsv (CloudTrail event -> Terraform types, identifiers, attributes,
# severity) becomes cat_embedded[] through embed-catalog.sh, parsed by
# catalog.c (cat_load).  Both objects are members of the archive, so every
# program that uses the modules gets the data with them.

DOMAIN_DIR        := libcommon/src/domain
DOMAIN_IDS_TSV    := $(DOMAIN_DIR)/identifiers.tsv
DOMAIN_IDS_O      := $(OBJ)/gen/domain_identifiers.o
DOMAIN_CATALOG    := $(sort $(wildcard $(DOMAIN_DIR)/catalog/*.tsv))
DOMAIN_CATALOG_O  := $(OBJ)/gen/domain_catalog.o
DOMAIN_DATA_O     := $(DOMAIN_IDS_O) $(DOMAIN_CATALOG_O)

$(GEN)/domain_identifiers.c: $(DOMAIN_IDS_TSV) libcommon/build.mk
	@mkdir -p $(dir $@)
	{ printf '/* generated from %s; do not edit */\n#include "tfdrift/identifiers.h"\nconst char idx_table_text[] =\n' '$<'; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  printf '\t"";\n'; } > $@.tmp && mv $@.tmp $@

$(GEN)/domain_catalog.c: $(DOMAIN_CATALOG) $(DOMAIN_DIR)/embed-catalog.sh
	@mkdir -p $(dir $@)
	sh $(DOMAIN_DIR)/embed-catalog.sh $(DOMAIN_CATALOG) > $@.tmp && mv $@.tmp $@

# generated from our data, so compiled with our full warnings
$(DOMAIN_IDS_O): $(GEN)/domain_identifiers.c libcommon/include/tfdrift/identifiers.h
$(DOMAIN_CATALOG_O): $(GEN)/domain_catalog.c libcommon/include/tfdrift/catalog.h
$(DOMAIN_DATA_O):
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
