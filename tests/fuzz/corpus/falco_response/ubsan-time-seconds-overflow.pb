
€òÖÊ.À©Ó:""Terraform managed resource changed*x2
ãt.ide12"
ct.nameModifyInstanceAttribute2
ct.srcec3.amazonaws.com2
ct.time2026-01-01T00:00:00Z2A
ct.user.`rn2arn:aAttribute2.ct0s
12ssa:ume`-role/Admin/alice2L

ct.request>{"instanceId":"i-0abc","disableApiTermination":{"vresource c}}2
	ct.reoion	us-east-1:falco-1BcloudBawsJaws_cloudtrail