"""The default wording of parent letters, per language, shipped in code.

Administrators may override any key per district or per school (stored, versioned, in
``letter_texts``); what is not overridden comes from here. Placeholders in braces are
filled per letter: {name} {school} {session} {date} {url} {code} {expires}.

The wording about weight follows health-promoting, non-stigmatising language: it speaks
of habits of the whole family, never of blame, diets or body shape, and the letter is laid
out so that folded it shows only the pupil's name (see schoolhealth/letters/pdf.py).
No Flask here: the benchmark and worker processes render letters without an app.
"""

from __future__ import annotations

from collections.abc import Mapping

# Bumped whenever the defaults below change, so the register tells letters apart.
DEFAULTS_VERSION = 1

PLACEHOLDERS = ("name", "school", "session", "date", "url", "code", "expires")

_ZH: dict[str, str] = {
    "title": "告家长书",
    "outside": "{name} 同学家长　亲启",
    "fold_hint": "请沿左右两侧的折线折叠，折好后只露出姓名。",
    "salutation": "尊敬的{name}同学家长：",
    "intro_referral": (
        "{school}于{date}进行了“{session}”。这次筛查发现孩子有以下需要关注的情况。"
        "筛查不是诊断：请按下面的建议带孩子到医院检查，就诊后填写回执交回学校。"
    ),
    "intro_summary": (
        "{school}于{date}进行了“{session}”。孩子这次筛查的各项结果都在正常范围内。"
        "感谢您的支持，请继续和孩子一起保持均衡饮食、充足睡眠和每天的户外活动。"
    ),
    "facts_name": "学生姓名",
    "facts_class": "班级",
    "facts_date": "筛查日期",
    "table_title": "本次测量结果",
    "col_measure": "项目",
    "col_value": "结果",
    "col_cutoff": "参考界值（{age}岁{sex}）",
    "findings_title": "筛查发现与建议",
    "meaning_label": "这是什么意思：",
    "steps_label": "建议：",
    "closing": "如有疑问，请联系学校卫生室。感谢您的配合！",
    "signature": "{school}卫生室",
    "online": (
        "扫描二维码或访问 {url}，输入提取码 {code} 和孩子的出生日期，"
        "即可下载本通知（{expires}前有效）。"
    ),
    "slip_title": "回　执",
    "slip_hint": "请沿虚线剪下，就诊后填写并于两周内交回班主任。",
    "slip_pupil": "学生",
    "slip_number": "学籍号",
    "slip_id": "身份证号",
    "slip_growth": "生长发育／营养　医生意见：",
    "slip_vision": (
        "睫状肌麻痹验光　右眼 球镜____ 柱镜____ 轴位____　左眼 球镜____ 柱镜____ 轴位____"
    ),
    "slip_vision_diagnosis": "眼科诊断：",
    "slip_spine": "站立位全脊柱X线片　Cobb角：______°　诊断：",
    "slip_dental": "龋齿已治疗：□ 是　□ 否　　治疗牙位：",
    "slip_doctor": "医生：",
    "slip_hospital": "医院：",
    "slip_date": "就诊日期：",
    "slip_guardian": "家长签名：",
    "sex_M": "男",
    "sex_F": "女",
    "class_label": "{grade}年级{class_name}班",
    "page_continued": "（续）",
    # Findings: the title of each, then meaning and next steps per advice key.
    "finding.weight_status.overweight": "超重",
    "finding.weight_status.obese": "肥胖",
    "finding.thinness.mild": "轻度消瘦",
    "finding.thinness.moderate_severe": "中重度消瘦",
    "finding.stunting.yes": "生长迟缓",
    "finding.vision.mild": "轻度视力不良",
    "finding.vision.moderate": "中度视力不良",
    "finding.vision.severe": "重度视力不良",
    "finding.myopia.yes": "筛查性近视",
    "finding.myopia.unknown": "视力下降，近视待查",
    "finding.spine.suspected_scoliosis": "可疑脊柱侧弯",
    "finding.spine.postural": "姿势性脊柱不对称",
    "finding.spine.sagittal_abnormal": "脊柱前后弯曲异常",
    "finding.caries.yes": "龋齿（未治疗）",
    "eye.right": "（右眼）",
    "eye.left": "（左眼）",
    "advice.growth.overweight.meaning": "孩子的体重指数（BMI）略高于同龄同性别儿童的参考范围。",
    "advice.growth.overweight.steps": (
        "不需要节食。全家一起多吃蔬菜水果，用白开水代替含糖饮料，每天户外活动至少1小时，"
        "保证睡眠。请不要评论孩子的体型，鼓励比批评更有效。"
    ),
    "advice.growth.obese.meaning": (
        "孩子的体重指数（BMI）高于同龄同性别儿童的参考范围，长期可能影响健康。"
    ),
    "advice.growth.obese.steps": (
        "请带孩子到医院儿童保健科或营养门诊，由医生评估并给出饮食和活动建议。"
        "全家一起养成健康习惯效果最好；请不要让孩子自行节食，也不要评论孩子的体型。"
    ),
    "advice.growth.thinness_mild.meaning": "孩子的体重指数（BMI）略低于同龄同性别儿童的参考范围。",
    "advice.growth.thinness_mild.steps": (
        "保证一日三餐和足够的奶、蛋、肉、豆类，规律作息，适量运动。"
    ),
    "advice.growth.thinness_moderate_severe.meaning": "孩子的体重指数（BMI）明显低于参考范围。",
    "advice.growth.thinness_moderate_severe.steps": (
        "请带孩子到医院儿童保健科检查，了解原因并获得营养建议。"
    ),
    "advice.growth.stunting.meaning": "孩子的身高低于同龄同性别儿童的参考界值。",
    "advice.growth.stunting.steps": "请到医院儿童保健科或内分泌科检查生长发育情况。",
    "advice.vision.reduced.meaning": (
        "孩子的裸眼视力低于正常值5.0，可能由近视、远视或散光等引起。"
    ),
    "advice.vision.reduced.steps": (
        "请尽快到医院眼科检查，必要时做散瞳（睫状肌麻痹）验光，按医嘱配镜或复查。"
        "每天户外活动2小时，减少长时间近距离用眼。"
    ),
    "advice.vision.screening_myopia.meaning": (
        "孩子的裸眼视力下降，电脑验光提示近视（筛查性近视）。筛查结果需要医院确认。"
    ),
    "advice.vision.screening_myopia.steps": (
        "请到医院眼科做睫状肌麻痹验光（散瞳验光）明确诊断，并按医嘱矫正。每天户外活动2小时。"
    ),
    "advice.vision.myopia_unknown.meaning": (
        "孩子的裸眼视力下降，这次没有验光，还不能判断是否近视。"
    ),
    "advice.vision.myopia_unknown.steps": "请到医院眼科检查并验光。",
    "advice.spine.suspected_scoliosis.meaning": (
        "检查发现孩子背部两侧不对称，可能有脊柱侧弯。早发现、早干预效果最好。"
    ),
    "advice.spine.suspected_scoliosis.steps": (
        "请到医院脊柱外科或骨科门诊就诊。医生可能会安排站立位全脊柱X线片，测量Cobb角以明确诊断。"
    ),
    "advice.spine.postural.meaning": "孩子背部有轻度不对称，多与姿势有关，不是脊柱侧弯。",
    "advice.spine.postural.steps": (
        "注意坐姿和站姿，选择合适的桌椅和书包，多做体育锻炼；下次筛查时复查。"
    ),
    "advice.spine.sagittal_abnormal.meaning": "孩子脊柱的前后弯曲（驼背或腰部前凸）超出正常范围。",
    "advice.spine.sagittal_abnormal.steps": "请到医院骨科或康复科检查，并注意保持正确的坐立姿势。",
    "advice.dental.caries.meaning": "检查发现孩子有未治疗的龋齿（蛀牙）。",
    "advice.dental.caries.steps": (
        "请尽早到口腔医院或医院口腔科治疗。每天早晚用含氟牙膏刷牙，少吃甜食。"
    ),
    "advice.other.meaning": "这次筛查有一项结果需要关注。",
    "advice.other.steps": "请带孩子到医院相应科室进一步检查。",
    # Measurement table
    "m.height": "身高",
    "m.weight": "体重",
    "m.bmi": "体重指数（BMI）",
    "m.ucva_right": "裸眼视力 右眼",
    "m.ucva_left": "裸眼视力 左眼",
    "m.se_right": "等效球镜 右眼",
    "m.se_left": "等效球镜 左眼",
    "m.atr": "躯干旋转角（最大）",
    "m.caries": "未治疗龋齿",
    "cut.bmi": "超重 ≥ {overweight}，肥胖 ≥ {obese}",
    "cut.bmi_thin": "消瘦 ≤ {thin}",
    "cut.height": "生长迟缓 ≤ {height} cm",
    "cut.ucva": "正常 ≥ 5.0",
    "cut.se": "近视 ≤ -0.50 D（裸眼视力 < 5.0 时）",
    "cut.atr": "阳性 ≥ {atr}°",
    "cut.caries": "0",
    "teeth": "{count} 颗",
}

_EN: dict[str, str] = {
    "title": "Letter to parents",
    "outside": "For the parent or guardian of {name} (private)",
    "fold_hint": "Fold along the marks at both sides: folded, only the name shows.",
    "salutation": "Dear parent or guardian of {name},",
    "intro_referral": (
        "On {date}, {school} held the screening “{session}”. It found the points below "
        "that need your attention. A screening is not a diagnosis: please follow the advice, "
        "take your child to a doctor where it says so, and return the slip to the school."
    ),
    "intro_summary": (
        "On {date}, {school} held the screening “{session}”. All of your child's results "
        "are in the normal range. Thank you for your support: please keep up balanced "
        "meals, enough sleep and daily outdoor play together with your child."
    ),
    "facts_name": "Pupil",
    "facts_class": "Class",
    "facts_date": "Screening date",
    "table_title": "Measurements",
    "col_measure": "Measurement",
    "col_value": "Result",
    "col_cutoff": "Cut-off at age {age}, {sex}",
    "findings_title": "What we found and what to do",
    "meaning_label": "What this means:",
    "steps_label": "What to do:",
    "closing": "If you have any questions, please contact the school health office. Thank you.",
    "signature": "{school}, health office",
    "online": (
        "Scan the QR code or go to {url}, enter the code {code} and your child's date of "
        "birth to download this letter (until {expires})."
    ),
    "slip_title": "RETURN SLIP",
    "slip_hint": (
        "Cut along the line, fill in after the visit, return to the class teacher within two weeks."
    ),
    "slip_pupil": "Pupil",
    "slip_number": "Student no.",
    "slip_id": "ID no.",
    "slip_growth": "Growth / nutrition, doctor's advice:",
    "slip_vision": (
        "Cycloplegic refraction  R: sph ____ cyl ____ axis ____   L: sph ____ cyl ____ axis ____"
    ),
    "slip_vision_diagnosis": "Eye diagnosis:",
    "slip_spine": "Standing full-spine radiograph  Cobb angle: ______°  Diagnosis:",
    "slip_dental": "Caries treated:  [ ] yes   [ ] no     Teeth treated:",
    "slip_doctor": "Doctor:",
    "slip_hospital": "Hospital:",
    "slip_date": "Date of visit:",
    "slip_guardian": "Parent's signature:",
    "sex_M": "boys",
    "sex_F": "girls",
    "class_label": "Grade {grade}, class {class_name}",
    "page_continued": "(continued)",
    "finding.weight_status.overweight": "Overweight",
    "finding.weight_status.obese": "Obesity",
    "finding.thinness.mild": "Mild thinness",
    "finding.thinness.moderate_severe": "Moderate or severe thinness",
    "finding.stunting.yes": "Stunting (short for age)",
    "finding.vision.mild": "Mildly reduced vision",
    "finding.vision.moderate": "Moderately reduced vision",
    "finding.vision.severe": "Severely reduced vision",
    "finding.myopia.yes": "Screening myopia",
    "finding.myopia.unknown": "Reduced vision, myopia not yet assessed",
    "finding.spine.suspected_scoliosis": "Suspected scoliosis",
    "finding.spine.postural": "Postural spine asymmetry",
    "finding.spine.sagittal_abnormal": "Front-to-back spine curve outside the normal range",
    "finding.caries.yes": "Untreated tooth decay (caries)",
    "eye.right": ", right eye",
    "eye.left": ", left eye",
    "advice.growth.overweight.meaning": (
        "Your child's body mass index (BMI) is a little above the reference range for "
        "children of the same age and sex."
    ),
    "advice.growth.overweight.steps": (
        "No dieting is needed. As a family, eat more vegetables and fruit, drink water "
        "instead of sweet drinks, be active outdoors at least an hour a day and sleep enough. "
        "Please avoid comments about body shape: encouragement works better than criticism."
    ),
    "advice.growth.obese.meaning": (
        "Your child's body mass index (BMI) is above the reference range for children of "
        "the same age and sex, which over time can affect health."
    ),
    "advice.growth.obese.steps": (
        "Please see a child-health or nutrition clinic, where a doctor can check your child "
        "and advise on meals and activity. Healthy habits work best when the whole family "
        "shares them; please do not put your child on a diet or comment on body shape."
    ),
    "advice.growth.thinness_mild.meaning": (
        "Your child's BMI is a little below the reference range for age and sex."
    ),
    "advice.growth.thinness_mild.steps": (
        "Make sure of three regular meals with enough milk, eggs, meat or beans, regular "
        "sleep and some exercise."
    ),
    "advice.growth.thinness_moderate_severe.meaning": (
        "Your child's BMI is clearly below the reference range."
    ),
    "advice.growth.thinness_moderate_severe.steps": (
        "Please see a child-health clinic to find the cause and get advice on nutrition."
    ),
    "advice.growth.stunting.meaning": (
        "Your child's height is below the cut-off for children of the same age and sex."
    ),
    "advice.growth.stunting.steps": (
        "Please see a child-health or endocrinology clinic to check your child's growth."
    ),
    "advice.vision.reduced.meaning": (
        "Your child's eyesight without glasses is below the normal 5.0; short sight, long "
        "sight or astigmatism can cause this."
    ),
    "advice.vision.reduced.steps": (
        "Please have your child's eyes examined at a hospital eye clinic soon, with "
        "cycloplegic refraction if the doctor advises, and follow the advice on glasses. "
        "Two hours outdoors a day and breaks from close work help."
    ),
    "advice.vision.screening_myopia.meaning": (
        "Your child's eyesight is reduced and the screening refraction suggests short sight "
        "(screening myopia). A hospital has to confirm it."
    ),
    "advice.vision.screening_myopia.steps": (
        "Please take your child to an eye clinic for cycloplegic refraction (with dilating "
        "drops) to confirm the diagnosis, and follow the doctor's advice. Two hours "
        "outdoors a day help."
    ),
    "advice.vision.myopia_unknown.meaning": (
        "Your child's eyesight is reduced; refraction was not measured this time, so we "
        "cannot yet tell whether it is short sight."
    ),
    "advice.vision.myopia_unknown.steps": "Please have your child's eyes and refraction examined.",
    "advice.spine.suspected_scoliosis.meaning": (
        "The two sides of your child's back are not level, which can be a sign of "
        "scoliosis (a sideways curve of the spine). Found early, it is treated best."
    ),
    "advice.spine.suspected_scoliosis.steps": (
        "Please see a spine or orthopaedic clinic. The doctor may ask for a standing "
        "full-spine radiograph (X-ray) to measure the Cobb angle and confirm the diagnosis."
    ),
    "advice.spine.postural.meaning": (
        "Your child's back is slightly uneven, most likely from posture; this is not scoliosis."
    ),
    "advice.spine.postural.steps": (
        "Encourage good sitting and standing posture, a suitable desk, chair and school bag, "
        "and plenty of exercise; it will be checked again at the next screening."
    ),
    "advice.spine.sagittal_abnormal.meaning": (
        "The front-to-back curve of your child's spine (round back or hollow back) is "
        "outside the normal range."
    ),
    "advice.spine.sagittal_abnormal.steps": (
        "Please see an orthopaedic or rehabilitation clinic, and encourage good posture."
    ),
    "advice.dental.caries.meaning": "Your child has tooth decay (caries) that is not yet treated.",
    "advice.dental.caries.steps": (
        "Please have it treated at a dental clinic soon. Brush twice a day with fluoride "
        "toothpaste and keep sweets to mealtimes."
    ),
    "advice.other.meaning": "One result of this screening needs attention.",
    "advice.other.steps": "Please have your child examined at a hospital.",
    "m.height": "Height",
    "m.weight": "Weight",
    "m.bmi": "Body mass index (BMI)",
    "m.ucva_right": "Eyesight without glasses, right",
    "m.ucva_left": "Eyesight without glasses, left",
    "m.se_right": "Refraction (SE), right",
    "m.se_left": "Refraction (SE), left",
    "m.atr": "Trunk rotation (largest)",
    "m.caries": "Untreated decayed teeth",
    "cut.bmi": "overweight ≥ {overweight}, obesity ≥ {obese}",
    "cut.bmi_thin": "thinness ≤ {thin}",
    "cut.height": "stunting ≤ {height} cm",
    "cut.ucva": "normal ≥ 5.0",
    "cut.se": "myopia ≤ -0.50 D (when eyesight < 5.0)",
    "cut.atr": "positive ≥ {atr}°",
    "cut.caries": "0",
    "teeth": "{count}",
}

DEFAULTS: dict[str, dict[str, str]] = {"zh": _ZH, "en": _EN}

# Keys an administrator may change (everything but the finding titles' fixed structure).
EDITABLE_KEYS: tuple[str, ...] = tuple(_ZH)


def wording(language: str, *overrides: Mapping[str, str]) -> dict[str, str]:
    """The defaults of ``language`` with each override applied in turn (district, school)."""
    merged = dict(DEFAULTS[language])
    for layer in overrides:
        merged.update({k: v for k, v in layer.items() if k in merged and v})
    return merged


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, **values: object) -> str:
    """Fill the placeholders of a text; an unknown one stays as typed instead of failing."""
    return template.format_map(_Blank({k: str(v) for k, v in values.items()}))


def check_template(template: str) -> str | None:
    """Why an administrator's text cannot be used (unbalanced braces), or None."""
    try:
        template.format_map(_Blank())
    except (ValueError, IndexError, AttributeError) as exc:
        return str(exc)
    return None
