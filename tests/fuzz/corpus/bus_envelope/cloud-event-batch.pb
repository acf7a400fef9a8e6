0123456789abcdef"t1(€€θοΚΓ2tfdrift-ingest/host-1:`
K
e1€€θοΚΓec2.amazonaws.com"RunInstancesBarn:aws:iam::1:user/aπ

e2€”ΣΜΆΚΓπ