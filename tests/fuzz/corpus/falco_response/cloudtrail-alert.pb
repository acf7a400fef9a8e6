
€òÖÊÀ©Ó:""Terraform managed resource changed*x2
ct.ide12"
ct.nameModifyInstanceAttribute2
ct.srcec2.amazonaws.com2
ct.time2026-01-01T00:00:00Z2A
ct.user.arn2arn:aws:sts::123456789012:assumed-role/Admin/alice2L

ct.request>{"instanceId":"i-0abc","disableApiTermination":{"value":true}}2
	ct.region	us-east-1:falco-1BcloudBawsJaws_cloudtrail