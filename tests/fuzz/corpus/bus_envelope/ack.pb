0123456789abcdef"t1(€€θοΚΓ2tfdrift-ingest/host-1:
m1