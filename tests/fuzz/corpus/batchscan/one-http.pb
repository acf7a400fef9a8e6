

e3¢
arn:xðª	ct.region